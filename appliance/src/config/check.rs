//! Unknown keys and sections: every key of a file is matched against the sections' key lists
//! before the values are read, so that a typo (`listne`) is an error naming the key, its line
//! and the closest known key instead of a default silently left in force.

use toml::de::{DeTable, DeValue};

use super::{Error, NOT_BUILT, SECTIONS, Shape};

/// Checks the keys of `text` (named `name` in errors); returns the sections of parts not yet
/// built that it holds, by name.
pub(super) fn keys(name: &str, text: &str) -> Result<Vec<&'static str>, Error> {
    let root = DeTable::parse(text).map_err(|e| Error::Syntax {
        path: name.to_owned(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    let line = |at: usize| text.get(..at).unwrap_or(text).matches('\n').count() + 1;
    let mut not_built = Vec::new();
    for (key, value) in root.get_ref() {
        let section = key.get_ref().as_ref();
        if let Some(s) = NOT_BUILT.iter().find(|s| **s == section) {
            not_built.push(*s);
            continue;
        }
        let Some((_, shape)) = SECTIONS.iter().find(|(s, _)| *s == section) else {
            let known = SECTIONS
                .iter()
                .map(|(s, _)| *s)
                .chain(NOT_BUILT.iter().copied());
            return Err(Error::UnknownSection {
                path: name.to_owned(),
                section: section.to_owned(),
                line: line(key.span().start),
                suggestion: closest(section, known),
            });
        };
        // A value of the wrong shape is left to the typed parse, which names the key.
        match (shape, value.get_ref()) {
            (Shape::Table(known), DeValue::Table(t)) => {
                table(name, &format!("[{section}]"), t, known, &line)?;
            }
            (Shape::Array(known), DeValue::Array(entries)) => {
                for (i, e) in entries.iter().enumerate() {
                    if let DeValue::Table(t) = e.get_ref() {
                        table(name, &format!("{section}[{i}]"), t, known, &line)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(not_built)
}

fn table(
    name: &str,
    section: &str,
    t: &DeTable<'_>,
    known: &[&'static str],
    line: &impl Fn(usize) -> usize,
) -> Result<(), Error> {
    for key in t.keys() {
        let k = key.get_ref().as_ref();
        if !known.contains(&k) {
            return Err(Error::UnknownKey {
                path: name.to_owned(),
                section: section.to_owned(),
                key: k.to_owned(),
                line: line(key.span().start),
                suggestion: closest(k, known.iter().copied()),
            });
        }
    }
    Ok(())
}

/// The known name nearest to `typed` by edit distance, if it is near enough to be a typo.
fn closest<'a>(typed: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).max(2);
    known
        .map(|k| (distance(typed, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Damerau-Levenshtein distance (optimal string alignment): a swap of neighbours costs one,
/// as in `listne`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names() {
        assert_eq!(distance("listne", "listen"), 1);
        assert_eq!(closest("listne", ["listen"].into_iter()), Some("listen"));
        assert_eq!(closest("zzzzzz", ["listen"].into_iter()), None);
        assert_eq!(
            closest("gateways", ["gateway", "station"].into_iter()),
            Some("gateway")
        );
    }
}
