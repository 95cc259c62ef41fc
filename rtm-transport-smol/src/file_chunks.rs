//! A file read a chunk at a time on the blocking pool: what the HTTP bodies that stream a
//! file from disk share (a download the server sends, an upload `RtmClient` sends).

use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use smol::Task;

/// A file being read chunk by chunk; one read in flight at a time.
#[derive(Debug)]
pub(crate) struct FileChunks {
    /// `None` while a read has it, or after a read failed.
    file: Option<File>,
    reading: Option<Task<(File, io::Result<Bytes>)>>,
}

impl FileChunks {
    pub fn new(file: File) -> Self {
        FileChunks {
            file: Some(file),
            reading: None,
        }
    }

    /// The next chunk of at most `want` (> 0) bytes. A file that ends first (it shrank
    /// since its length was taken) is `UnexpectedEof`; after an error every call fails.
    pub fn poll_next(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<Bytes>> {
        if self.reading.is_none() {
            let Some(mut file) = self.file.take() else {
                return Poll::Ready(Err(io::Error::other("an earlier read of the file failed")));
            };
            self.reading = Some(smol::unblock(move || {
                let mut buf = vec![0u8; want];
                let read = file.read(&mut buf).map(|n| {
                    buf.truncate(n);
                    Bytes::from(buf)
                });
                (file, read)
            }));
        }
        let task = self.reading.as_mut().expect("set above");
        let (file, read) = ready!(Pin::new(task).poll(cx));
        self.reading = None;
        Poll::Ready(match read {
            Ok(chunk) if chunk.is_empty() => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before its length",
            )),
            Ok(chunk) => {
                self.file = Some(file);
                Ok(chunk)
            }
            Err(e) => Err(e),
        })
    }
}
