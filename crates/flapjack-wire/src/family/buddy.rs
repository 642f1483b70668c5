//! Family 0x0003 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0003.
    Buddy,
    0x0003
);
