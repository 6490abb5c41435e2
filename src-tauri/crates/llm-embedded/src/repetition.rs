//! Notices a generation that loops: the same block of tokens three times in
//! a row at the end of the output. Small models (the default 270M base model
//! above all) fall into such loops — one sentence repeated in a tool
//! argument until the token limit — and never leave them by themselves.

/// Shortest block that counts: shorter repeats are ordinary text ("...",
/// "1000", a run of spaces or closing brackets) — unless they go on long
/// enough to make a longer block repeat.
const MIN_BLOCK: usize = 5;
/// Longest block looked for (a repeated sentence or line of code).
const MAX_BLOCK: usize = 120;
const TIMES: usize = 3;

#[derive(Debug)]
pub(crate) struct Repetition<T = llama_cpp_2::token::LlamaToken> {
    tokens: Vec<T>,
}

impl<T> Default for Repetition<T> {
    fn default() -> Self {
        Self { tokens: Vec::new() }
    }
}

impl<T: PartialEq + Copy> Repetition<T> {
    /// Adds a generated token; true when the output now ends with some block
    /// of `MIN_BLOCK..=MAX_BLOCK` tokens repeated three times.
    pub(crate) fn push(&mut self, token: T) -> bool {
        self.tokens.push(token);
        let n = self.tokens.len();
        (MIN_BLOCK..=MAX_BLOCK.min(n / TIMES)).any(|len| {
            let last = &self.tokens[n - len..];
            (2..=TIMES).all(|k| &self.tokens[n - k * len..n - (k - 1) * len] == last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tokens: &[u32]) -> Option<usize> {
        let mut r = Repetition::<u32>::default();
        tokens.iter().position(|&t| r.push(t))
    }

    #[test]
    fn a_block_repeated_three_times_is_caught_when_the_third_ends() {
        let block = [7, 8, 9, 10, 11, 12];
        let mut out = vec![1, 2, 3];
        for _ in 0..4 {
            out.extend(block);
        }
        // 3 tokens before, then the third copy ends at index 3 + 18 - 1.
        assert_eq!(feed(&out), Some(20));
    }

    #[test]
    fn ordinary_text_and_short_repeats_pass() {
        // Two copies only, then something else.
        let mut out: Vec<u32> = (0..10).chain(0..10).chain(20..40).collect();
        assert_eq!(feed(&out), None);
        // A short block (4 tokens) a few times: "...", a run of brackets.
        out = [1, 2, 3, 4].repeat(3);
        assert_eq!(feed(&out), None);
        // ... but not on and on: eight copies are a loop (a block of 8, thrice).
        assert_eq!(feed(&[1, 2, 3, 4].repeat(8)), Some(23));
        // A long varied text.
        out = (0..500).map(|i| (i * 7919) % 263).collect();
        assert_eq!(feed(&out), None);
    }
}
