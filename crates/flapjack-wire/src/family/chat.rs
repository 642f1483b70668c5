//! Family 0x000E (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x000E.
    Chat,
    0x000E
);
