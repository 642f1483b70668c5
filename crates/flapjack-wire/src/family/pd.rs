//! Family 0x0009 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0009.
    Pd,
    0x0009
);
