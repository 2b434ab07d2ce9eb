//! The conversation's rules, tested on a virtual clock.

mod actions;
mod harness;
mod languages;
mod rules;
