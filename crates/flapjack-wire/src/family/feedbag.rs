//! Family 0x0013 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0013.
    Feedbag,
    0x0013
);
