//! Cuts a streamed answer at a stop string. Text that could be the start of a
//! stop string is held back until the next piece shows whether it is, so the
//! reader never sees part of one; trailing whitespace is held too, so an
//! answer cut at a stop string does not end in the blank line before it.

#[derive(Debug)]
pub(crate) struct StopFilter {
    stops: Vec<String>,
    trim_start: bool,
    held: String,
}

/// What a piece of text released.
#[derive(Debug, PartialEq)]
pub(crate) enum Filtered {
    /// Text to pass on (possibly empty); the answer goes on.
    Continue(String),
    /// The last text of the answer: a stop string was reached.
    Stop(String),
}

impl StopFilter {
    pub(crate) fn new(stops: Vec<String>, trim_start: bool) -> Self {
        Self {
            stops,
            trim_start,
            held: String::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> Filtered {
        self.held.push_str(text);
        if self.trim_start {
            let trimmed = self.held.trim_start();
            if trimmed.is_empty() {
                self.held.clear();
                return Filtered::Continue(String::new());
            }
            self.held = trimmed.to_owned();
            self.trim_start = false;
        }
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.held.find(stop.as_str()))
            .min();
        if let Some(at) = first_stop {
            let answer = self.held[..at].trim_end().to_owned();
            self.held.clear();
            return Filtered::Stop(answer);
        }
        let keep = self.held_back_len();
        let release = self.held.len() - keep;
        let out = self.held[..release].to_owned();
        self.held.drain(..release);
        Filtered::Continue(out)
    }

    /// What is still held when the answer ends without a stop string.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Bytes at the end of `held` that must wait: the longest tail that begins
    /// some stop string, and the whitespace before it.
    fn held_back_len(&self) -> usize {
        let prefix = self
            .stops
            .iter()
            .flat_map(|stop| {
                // Tails of `held` that are proper prefixes of `stop`.
                (1..stop.len().min(self.held.len() + 1))
                    .filter(|&n| stop.is_char_boundary(n))
                    .filter(|&n| self.held.ends_with(&stop[..n]))
            })
            .max()
            .unwrap_or(0);
        let before = &self.held[..self.held.len() - prefix];
        prefix + (before.len() - before.trim_end().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOPS: &[&str] = &["\nUser:", "\nSystem:"];

    fn owned(stops: &[&str]) -> Vec<String> {
        stops.iter().map(|s| s.to_string()).collect()
    }

    fn run(filter: &mut StopFilter, pieces: &[&str]) -> (String, bool) {
        let mut out = String::new();
        for piece in pieces {
            match filter.push(piece) {
                Filtered::Continue(text) => out.push_str(&text),
                Filtered::Stop(text) => {
                    out.push_str(&text);
                    return (out, true);
                }
            }
        }
        out.push_str(&filter.finish());
        (out, false)
    }

    #[test]
    fn cuts_the_answer_where_the_next_turn_begins_even_across_pieces() {
        let mut filter = StopFilter::new(owned(STOPS), true);
        let (out, stopped) = run(
            &mut filter,
            &[
                " The", " sea is", " blue.", "\n", "\n", "Us", "er", ": more",
            ],
        );
        assert_eq!((out.as_str(), stopped), ("The sea is blue.", true));
    }

    #[test]
    fn text_that_only_looks_like_a_stop_at_first_is_released() {
        let mut filter = StopFilter::new(owned(STOPS), false);
        assert_eq!(filter.push("a\nUs"), Filtered::Continue("a".into()));
        assert_eq!(filter.push("eful"), Filtered::Continue("\nUseful".into()));
        assert_eq!(filter.push(" tips\n"), Filtered::Continue(" tips".into()));
        assert_eq!(filter.finish(), "\n");
    }

    #[test]
    fn without_stops_text_flows_except_trailing_whitespace() {
        let mut filter = StopFilter::new(Vec::new(), false);
        let (out, stopped) = run(&mut filter, &["  a", " b ", "c\n"]);
        assert_eq!((out.as_str(), stopped), ("  a b c\n", false));
        let mut filter = StopFilter::new(Vec::new(), false);
        assert_eq!(filter.push("x "), Filtered::Continue("x".into()));
    }

    #[test]
    fn leading_whitespace_is_dropped_only_when_asked() {
        let mut filter = StopFilter::new(owned(STOPS), true);
        assert_eq!(filter.push(" "), Filtered::Continue(String::new()));
        assert_eq!(filter.push(" Hi"), Filtered::Continue("Hi".into()));
        assert_eq!(filter.push(" there"), Filtered::Continue(" there".into()));
    }

    #[test]
    fn multibyte_text_is_held_on_character_boundaries() {
        const STOPS: &[&str] = &["\n€uro:"];
        let mut filter = StopFilter::new(owned(STOPS), false);
        assert_eq!(filter.push("é\n€"), Filtered::Continue("é".into()));
        assert_eq!(filter.push("uro: x"), Filtered::Stop(String::new()));
    }
}
