//! Turns token pieces into text. A token's bytes need not end on a character
//! boundary (byte-fallback tokens split emoji and CJK characters), so bytes
//! are held back until they complete a character.

#[derive(Debug, Default)]
pub(crate) struct Utf8Buffer {
    pending: Vec<u8>,
}

impl Utf8Buffer {
    /// Adds a token's bytes and returns the text that is now complete
    /// (possibly empty). Bytes that can never be valid UTF-8 become U+FFFD
    /// rather than stalling the stream.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(err) => {
                    let valid = err.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match err.error_len() {
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// What is left when generation ends (an unfinished character).
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_passes_straight_through() {
        let mut buf = Utf8Buffer::default();
        assert_eq!(buf.push(b"Hello"), "Hello");
        assert_eq!(buf.push(b", world"), ", world");
        assert_eq!(buf.finish(), "");
    }

    #[test]
    fn a_character_split_across_tokens_is_held_back_until_complete() {
        let crab = "🦀".as_bytes();
        let mut buf = Utf8Buffer::default();
        assert_eq!(buf.push(&[b'a', crab[0]]), "a");
        assert_eq!(buf.push(&crab[1..3]), "");
        assert_eq!(buf.push(&[crab[3], b'b']), "🦀b");
        assert_eq!(buf.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_without_stalling() {
        let mut buf = Utf8Buffer::default();
        assert_eq!(buf.push(&[b'x', 0xFF, b'y']), "x\u{FFFD}y");
        assert_eq!(buf.push("é".as_bytes()), "é");
    }

    #[test]
    fn an_unfinished_character_at_the_end_is_flushed_lossily() {
        let mut buf = Utf8Buffer::default();
        assert_eq!(buf.push(&"€".as_bytes()[..2]), "");
        assert_eq!(buf.finish(), "\u{FFFD}");
        assert_eq!(buf.finish(), "");
    }
}
