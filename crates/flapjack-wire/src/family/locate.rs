//! Family 0x0002 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0002.
    Locate,
    0x0002
);
