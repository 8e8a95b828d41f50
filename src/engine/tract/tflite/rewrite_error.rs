//! Why one TFLite operator cannot be rewritten for tract 0.23.9. `inspect`
//! and the list of unsupported operators show the text as is, so each
//! variant displays its message unchanged.

/// A rewrite's refusal, by what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// A shape, type, option or arity the rewrite does not handle.
    #[error("{0}")]
    Unsupported(String),
    /// A custom operator's FlexBuffers options that cannot be read.
    #[error("custom options: {0}")]
    Options(#[from] FlexError),
}

// The rewrites build their refusals with `format!` and `ok_or("...")`: a
// text is an unsupported case.
impl From<String> for RewriteError {
    fn from(why: String) -> Self {
        RewriteError::Unsupported(why)
    }
}

impl From<&str> for RewriteError {
    fn from(why: &str) -> Self {
        RewriteError::Unsupported(why.to_owned())
    }
}

/// A FlexBuffers buffer that does not decode (offsets, widths, types).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlexError(pub String);

impl From<String> for FlexError {
    fn from(why: String) -> Self {
        FlexError(why)
    }
}

impl From<&str> for FlexError {
    fn from(why: &str) -> Self {
        FlexError(why.to_owned())
    }
}
