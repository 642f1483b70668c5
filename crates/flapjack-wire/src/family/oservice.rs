//! Family 0x0001 (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x0001.
    Oservice,
    0x0001
);
