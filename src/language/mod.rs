//! The languages of a call: which the daemon speaks and how a profile names them
//! ([`tag`]), the lines it says by itself in each ([`lines`]), and how a caller says
//! goodbye in each ([`goodbye`]). A leaf: plain data and rules, used by the admin API (to
//! check a profile), the conversation (to speak and switch) and the engines (to tell each
//! provider the language in its own form).

pub mod goodbye;
pub mod lines;
pub mod tag;

pub use goodbye::is_goodbye;
pub use lines::{Line, LineBook, LineText, LinesError};
pub use tag::{Language, LanguageError, LanguageTag};
