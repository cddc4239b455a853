//! A credential that never prints.

use std::fmt;

/// A credential read from the environment. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one call that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `text` with every credential value of 4 characters or more replaced by `***`: what every
/// line a run prints about a target goes through (trial steps and failures, panics, `doctor`).
pub fn scrub(secrets: &[Secret], text: String) -> String {
    secrets.iter().fold(text, |t, s| {
        if s.expose().len() >= 4 {
            t.replace(s.expose(), "***")
        } else {
            t
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_value_of_four_characters_or_more() {
        let secrets = [Secret::new("hunter22"), Secret::new("abc")];
        assert_eq!(
            scrub(&secrets, "login hunter22 as abc, again hunter22".into()),
            "login *** as abc, again ***"
        );
    }
}
