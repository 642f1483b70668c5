//! Typed messages, one module per SNAC family.
//!
//! Every family module follows one contract, so the dispatcher in
//! [`crate::snac::Message`] stays a flat match:
//!
//! ```text
//! pub const FAMILY: u16;                                   // the family id
//! pub enum Xxx<'a> { … one variant per subtype … }          // bodies borrow from the input
//! impl<'a> Xxx<'a> {
//!     pub fn subtype(&self) -> u16;
//!     /// Ok(None) for a subtype this module does not type (it becomes Message::Raw).
//!     pub fn decode(subtype: u16, r: &mut Reader<'a>) -> Result<Option<Self>, DecodeError>;
//!     pub fn encode(&self, out: &mut Vec<u8>);
//! }
//! ```
//! Subtype 0x0001 (the generic error) never reaches a family module.
//! The caller checks that the body was consumed entirely.

pub mod bucp;
pub mod buddy;
pub mod chat;
pub mod chat_nav;
pub mod feedbag;
pub mod icbm;
pub mod locate;
pub mod oservice;
pub mod pd;

/// Declares a family with no typed subtypes yet (every body decodes as raw).
///
/// Every family is typed now; the macro stays for the next family added.
#[allow(unused_macros)]
macro_rules! untyped_family {
    ($(#[$meta:meta])* $name:ident, $family:expr) => {
        /// The family id.
        pub const FAMILY: u16 = $family;

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name<'a> {
            #[doc(hidden)]
            _Never(std::convert::Infallible, std::marker::PhantomData<&'a ()>),
        }

        impl<'a> $name<'a> {
            /// The subtype of this message.
            pub fn subtype(&self) -> u16 {
                match *self {
                    Self::_Never(never, _) => match never {},
                }
            }
            /// Decodes a body; no subtype is typed yet.
            pub fn decode(
                _subtype: u16,
                _r: &mut crate::reader::Reader<'a>,
            ) -> Result<Option<Self>, crate::error::DecodeError> {
                Ok(None)
            }
            /// Appends the body.
            pub fn encode(&self, _out: &mut Vec<u8>) {
                match *self {
                    Self::_Never(never, _) => match never {},
                }
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use untyped_family;
