//! `vca-sim`: the Asterisk simulator binary. `serve` runs ARI + `/sim` control API;
//! `call` is a client of the control API that places one call and waits for it to end.
fn main() {}
