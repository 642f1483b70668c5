//! The `flapjack` binary.

fn main() {
    println!("flapjack {}", env!("CARGO_PKG_VERSION"));
}
