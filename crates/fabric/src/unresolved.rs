//! Rules that state a field vnetsim cannot resolve (the topology's `unresolved:`): a service
//! tag without address data, a firewall rule's FQDNs, an IP group outside the sources.
//!
//! Each table that has any keeps them in a classifier of their own in evaluation order, the
//! unresolved fields matching every header: the first rule it returns is the earliest one a
//! flow could meet. When that rule comes before the rule that decided, the walk cannot know the
//! verdict and ends naming the rule. Tables without unresolved rules hold `None`: the walk pays
//! one empty check.

use crate::classify::{Classifier, Cuts, Key, Rule};

/// One unresolved rule, for output.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UnresolvedRule {
    /// The rule's name as outputs show it (`RULE`, `COLLECTION/RULE`, `MANAGER/.../RULE`).
    pub name: String,
    /// Where evaluation meets it: a priority, or a collection's rank in processing order.
    pub order: u32,
    /// Every unresolved field and why (`destination: service tag 'Storage' ...`).
    pub why: String,
}

/// A table's unresolved rules and their classifier.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct UnresolvedRules {
    pub rules: Vec<UnresolvedRule>,
    /// What each rule matches, its unresolved fields every header.
    pub matches: Vec<Rule>,
    classifier: Classifier,
}

impl PartialEq for UnresolvedRules {
    fn eq(&self, o: &Self) -> bool {
        self.rules == o.rules && self.matches == o.matches
    }
}

impl UnresolvedRules {
    /// `None` when `rules` is empty. `rules` must be in evaluation order.
    pub fn build(rules: Vec<(Rule, UnresolvedRule)>) -> Option<UnresolvedRules> {
        if rules.is_empty() {
            return None;
        }
        let (matches, rules): (Vec<Rule>, Vec<UnresolvedRule>) = rules.into_iter().unzip();
        Some(UnresolvedRules {
            classifier: Classifier::build(&matches),
            matches,
            rules,
        })
    }
    /// The first unresolved rule `key` could match whose order is below `decided` (or equal,
    /// with `ties`): evaluation may meet it before the rule that decided.
    #[inline]
    pub fn ahead(&self, key: &Key, decided: u32, ties: bool) -> Option<u32> {
        let i = self.classifier.classify(key)?;
        let order = self.rules[i as usize].order;
        (order < decided || (ties && order == decided)).then_some(i)
    }
    /// The cut points of the stated fields (exhaustive reachability splits boxes on them).
    pub fn cuts(&self) -> Cuts {
        self.classifier.cuts()
    }
}

/// [`UnresolvedRules::ahead`] over an optional table.
#[inline]
pub fn ahead(u: &Option<UnresolvedRules>, key: &Key, decided: u32, ties: bool) -> Option<u32> {
    match u {
        None => None,
        Some(u) => u.ahead(key, decided, ties),
    }
}
