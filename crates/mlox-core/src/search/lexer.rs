//! The character-level scanner shared by the filter and `order_by` parsers.

/// A syntax error at a character position (0-based, counted in Unicode scalar values).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SyntaxError {
    pub(super) pos: usize,
    pub(super) message: String,
}

impl SyntaxError {
    pub(super) fn new(pos: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            pos,
            message: message.into(),
        }
    }
}

/// Characters allowed in unquoted identifiers and keys (`\w` in Python's `re`).
pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that make up symbolic comparison operators (`sqlparse`'s `[<>=~!]+`).
pub(super) fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~')
}

/// Result of scanning a quoted token.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Quoted {
    /// The text between the quotes, escapes left as written.
    pub(super) raw: String,
    /// Index just past the closing quote.
    pub(super) end: usize,
}

/// A character cursor over the input. All accessors are bounds-checked.
pub(super) struct Scanner<'a> {
    chars: &'a [char],
    pub(super) pos: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(chars: &'a [char]) -> Self {
        Scanner { chars, pos: 0 }
    }

    pub(super) fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.at(self.pos)
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(super) fn text(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        let start = start.min(end);
        self.chars[start..end].iter().collect()
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// End index of the run of word characters starting at `start`.
    pub(super) fn word_end(&self, start: usize) -> usize {
        let mut i = start;
        while self.at(i).is_some_and(is_word_char) {
            i += 1;
        }
        i
    }

    /// The word starting at the cursor, if any (without consuming it).
    pub(super) fn peek_word(&self) -> Option<String> {
        let end = self.word_end(self.pos);
        (end > self.pos).then(|| self.text(self.pos, end))
    }

    /// Whether the next word (case-insensitively) is `kw`.
    pub(super) fn peek_keyword(&self, kw: &str) -> bool {
        self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    /// Scans a quoted token starting at `start` (which holds the quote character).
    ///
    /// Follows `sqlparse`: a doubled quote is an escape, and for `'` and `"` so is a
    /// backslash before the quote. If the input ends inside the string, the regex
    /// engine backtracks to the last escape and closes the string there; without any
    /// escape to fall back on the string is unterminated (`None`).
    pub(super) fn scan_quoted(&self, start: usize) -> Option<Quoted> {
        let quote = self.at(start)?;
        let backslash_escapes = quote != '`';
        let mut i = start + 1;
        // Where the string would end if we had to backtrack: index of the closing quote.
        let mut fallback: Option<usize> = None;
        loop {
            let Some(c) = self.at(i) else {
                let close = fallback?;
                return Some(Quoted {
                    raw: self.text(start + 1, close),
                    end: close + 1,
                });
            };
            if c == quote {
                if self.at(i + 1) == Some(quote) {
                    fallback = Some(i);
                    i += 2;
                    continue;
                }
                return Some(Quoted {
                    raw: self.text(start + 1, i),
                    end: i + 1,
                });
            }
            if backslash_escapes && c == '\\' && self.at(i + 1) == Some(quote) {
                fallback = Some(i + 1);
                i += 2;
                continue;
            }
            i += 1;
        }
    }

    /// Scans a number at `start`: `[+-]? (\d+ (\.\d*)? | \.\d+) ([eE][+-]?\d+)?`.
    /// Returns the end index and whether the literal is an integer.
    pub(super) fn scan_number(&self, start: usize) -> Option<(usize, bool)> {
        let mut i = start;
        if matches!(self.at(i), Some('+' | '-')) {
            i += 1;
        }
        let int_start = i;
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let int_digits = i - int_start;
        let mut is_int = true;
        if self.at(i) == Some('.') {
            let frac_start = i + 1;
            let mut j = frac_start;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if int_digits == 0 && j == frac_start {
                return None;
            }
            is_int = false;
            i = j;
        } else if int_digits == 0 {
            return None;
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            let exp_start = j;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if j > exp_start {
                is_int = false;
                i = j;
            }
        }
        Some((i, is_int))
    }

    /// Index just past the `)` matching the `(` at `start`, skipping quoted text.
    pub(super) fn matching_paren(&self, start: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = start;
        while let Some(c) = self.at(i) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                '\'' | '"' | '`' => {
                    if let Some(q) = self.scan_quoted(i) {
                        i = q.end;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// Describes what is at the cursor, for "found ..." in error messages.
    pub(super) fn describe_here(&self) -> String {
        if self.at_end() {
            return "end of input".to_string();
        }
        let end = self.generic_token_end(self.pos);
        let mut text = self.text(self.pos, end);
        if text.chars().count() > 40 {
            text = text.chars().take(40).collect::<String>() + "...";
        }
        format!("'{text}'")
    }

    /// End of the "token" at `start`, as `sqlparse` would roughly delimit it. Used to
    /// skip over input that does not form a comparison and to quote it in messages.
    pub(super) fn generic_token_end(&self, start: usize) -> usize {
        let Some(c) = self.at(start) else {
            return start;
        };
        if matches!(c, '\'' | '"' | '`') {
            return self.scan_quoted(start).map_or(start + 1, |q| q.end);
        }
        if c == '(' {
            return self.matching_paren(start).unwrap_or(start + 1);
        }
        if is_op_char(c) {
            let mut i = start;
            while self.at(i).is_some_and(is_op_char) {
                i += 1;
            }
            return i;
        }
        if matches!(c, '+' | '-' | '.') || c.is_ascii_digit() {
            // A number, including any letters or dots glued to it (`1.5a`, `1e`).
            let Some((mut end, _)) = self.scan_number(start) else {
                return start + 1;
            };
            while self.at(end).is_some_and(|c| is_word_char(c) || c == '.') {
                end += 1;
            }
            return end;
        }
        if is_word_char(c) {
            // A dotted name, possibly with quoted parts: `params.a`, ``tags.`x y` ``.
            let mut i = self.word_end(start);
            while self.at(i) == Some('.') {
                let next = i + 1;
                match self.at(next) {
                    Some('\'' | '"' | '`') => match self.scan_quoted(next) {
                        Some(quoted) => i = quoted.end,
                        None => return next,
                    },
                    Some(ch) if is_word_char(ch) => i = self.word_end(next),
                    _ => return next,
                }
            }
            return i;
        }
        start + 1
    }
}
