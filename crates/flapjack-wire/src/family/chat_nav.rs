//! Family 0x000D (placeholder: typed messages are being written).

super::untyped_family!(
    /// Messages of family 0x000D.
    ChatNav,
    0x000D
);
