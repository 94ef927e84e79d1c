//! Strategy choice: which forwarding strategy governs each namespace (NFD
//! Developer Guide §3.6). Longest-prefix match over the configured prefixes;
//! the root always has a strategy.

use bytes::Bytes;
use picasso_tlv::Name;

/// Prefix → strategy name.
#[derive(Debug)]
pub struct StrategyChoice {
    entries: super::NameMap<Bytes, (Name, Name)>,
    /// Most components of a configured prefix, bounding the match loop
    /// (recomputed on unset).
    max_len: usize,
}

impl StrategyChoice {
    /// A table where `/` uses `default_strategy`.
    pub fn new(default_strategy: Name) -> Self {
        let mut entries = super::NameMap::default();
        entries.insert(Bytes::new(), (Name::new(), default_strategy));
        Self {
            entries,
            max_len: 0,
        }
    }

    /// Sets the strategy for `prefix`.
    pub fn set(&mut self, prefix: &Name, strategy: Name) {
        self.entries
            .insert(prefix.value().clone(), (prefix.clone(), strategy));
        self.max_len = self.max_len.max(prefix.len());
    }

    /// Removes the choice for `prefix` (the root's cannot be removed).
    /// Returns whether there was one.
    pub fn unset(&mut self, prefix: &Name) -> bool {
        if prefix.is_empty() {
            return false;
        }
        let removed = self.entries.remove::<[u8]>(prefix.value()).is_some();
        if removed {
            self.max_len = self
                .entries
                .values()
                .map(|(p, _)| p.len())
                .max()
                .unwrap_or(0);
        }
        removed
    }

    /// The strategy that governs `name`.
    pub fn find_effective(&self, name: &Name) -> &Name {
        (0..=name.len().min(self.max_len))
            .rev()
            .find_map(|n| self.entries.get::<[u8]>(name.prefix_value(n)))
            .map(|(_, s)| s)
            // Invariant: the root entry is inserted by `new` and never removed.
            .expect("the root always has a strategy")
    }

    /// All (prefix, strategy) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Name)> {
        self.entries.values().map(|(p, s)| (p, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    #[test]
    fn effective_strategy_by_longest_prefix() {
        let mut sc = StrategyChoice::new(n("/localhost/nfd/strategy/best-route"));
        sc.set(
            &n("/picasso/svc"),
            n("/localhost/nfd/strategy/load-balance"),
        );
        assert_eq!(
            sc.find_effective(&n("/picasso/svc/S1/x")).to_uri(),
            "/localhost/nfd/strategy/load-balance"
        );
        assert_eq!(
            sc.find_effective(&n("/other")).to_uri(),
            "/localhost/nfd/strategy/best-route"
        );
        assert!(sc.unset(&n("/picasso/svc")));
        assert!(!sc.unset(&n("/")));
        assert_eq!(
            sc.find_effective(&n("/picasso/svc/S1")).to_uri(),
            "/localhost/nfd/strategy/best-route"
        );
    }
}
