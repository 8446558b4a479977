//! The error answer every refused call returns, and the result type of the model's calls.

/// An error answer: `{code, message, request_id}` with this HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: String::new(),
            message: message.into(),
        }
    }
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = code.to_string();
        self
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, format!("{what} not found"))
    }
    /// What real Neon answers while another operation is still running on the project.
    pub fn locked() -> Self {
        ApiError::new(
            423,
            "project already has running conflicting operations, scheduling of new ones is prohibited",
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
