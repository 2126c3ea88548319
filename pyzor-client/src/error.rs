//! Client errors.

use pyzor_core::{Code, ResponseError, ServerAddr};

/// Why a request got no usable reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No reply within the timeout (after any retries).
    #[error("Reading response timed-out.")]
    Timeout,
    /// The server's name could not be resolved.
    #[error("Unable to resolve {server}: {source}")]
    Resolve {
        /// The server.
        server: ServerAddr,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// No address of the server accepted the datagram.
    #[error("Unable to send to {}:{}", .server.host, .server.port)]
    Send {
        /// The server.
        server: ServerAddr,
        /// The last send error.
        #[source]
        source: std::io::Error,
    },
    /// The socket failed while waiting for replies.
    #[error("Socket error while reading response: {0}")]
    Socket(#[source] std::io::Error),
    /// The reply is not a complete Pyzor response.
    #[error("{0}")]
    MalformedReply(#[from] ResponseError),
    /// The reply lacks a header the operation needs (e.g. `Count`).
    #[error("reply to {op} lacks {header}")]
    MissingHeader {
        /// The operation.
        op: &'static str,
        /// The header.
        header: &'static str,
    },
    /// The server answered with an error code.
    #[error("({code}, {diag:?})")]
    Server {
        /// The code (not 200).
        code: Code,
        /// The server's Diag.
        diag: String,
    },
}

impl ClientError {
    /// The code the reference client reports for this error (504 for a
    /// timeout, the server's code for a server error, 400 otherwise).
    pub fn code(&self) -> Code {
        match self {
            ClientError::Timeout => Code::TIMEOUT,
            ClientError::Server { code, .. } => *code,
            _ => Code::BAD_REQUEST,
        }
    }

    /// The text the reference client reports with [`ClientError::code`].
    pub fn text(&self) -> String {
        match self {
            ClientError::Server { diag, .. } => diag.clone(),
            other => other.to_string(),
        }
    }
}
