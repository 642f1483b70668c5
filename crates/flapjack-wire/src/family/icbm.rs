//! Family 0x0004 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0004.
    Icbm,
    0x0004
);
