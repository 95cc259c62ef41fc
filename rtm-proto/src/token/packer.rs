//! Agora's little-endian "Packer" encoding (§3.2/§3.3): `u16`, `u32`, `i16`,
//! `string` = u16 byte length + bytes, `map<u16,u32>` = u16 count + entries.
//!
//! [`Reader`] treats its input as hostile: every read is bounds-checked and a
//! short buffer yields [`TokenError::Malformed`]; nothing is pre-allocated from
//! an untrusted count.

use super::TokenError;

/// Checked cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not consumed yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        let head = self
            .buf
            .get(..n)
            .ok_or(TokenError::Malformed("truncated field"))?;
        self.buf = self.buf.get(n..).unwrap_or_default();
        Ok(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TokenError> {
        self.take(N)?
            .try_into()
            .map_err(|_| TokenError::Malformed("truncated field"))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, TokenError> {
        self.array().map(u16::from_le_bytes)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, TokenError> {
        self.u16().map(|v| i16::from_le_bytes(v.to_le_bytes()))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, TokenError> {
        self.array().map(u32::from_le_bytes)
    }

    /// `string`: u16 length followed by that many bytes (not necessarily UTF-8).
    pub(crate) fn string(&mut self) -> Result<&'a [u8], TokenError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// `map<u16, u32>`. Duplicate keys cannot come out of Agora's builders
    /// (they pack a map), so they are refused rather than silently resolved.
    pub(crate) fn map_u32(&mut self) -> Result<Vec<(u16, u32)>, TokenError> {
        let n = self.u16()?;
        let mut out: Vec<(u16, u32)> = Vec::new();
        for _ in 0..n {
            let k = self.u16()?;
            let v = self.u32()?;
            if out.iter().any(|&(key, _)| key == k) {
                return Err(TokenError::Malformed("duplicate privilege id"));
            }
            out.push((k, v));
        }
        Ok(out)
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Append `string(bytes)`; `None` if `bytes` does not fit a u16 length
/// (Agora's builders raise/fail in that case too).
pub(crate) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    let len = u16::try_from(bytes.len()).ok()?;
    put_u16(out, len);
    out.extend_from_slice(bytes);
    Some(())
}
