//! The distance-vector computation: a pure function from what this node
//! serves and what its neighbours advertise to the routing table and the
//! vector to advertise to each neighbour. No I/O and no clocks, so every
//! rule is tested here without a network.
//!
//! Rules (after RIP, RFC 2453 §3.4, with EIGRP's feasibility condition for
//! multipath):
//! - a prefix this node serves has cost 0 and is routed locally only;
//! - through an alive neighbour N advertising `(c, h)`, the path costs
//!   `c + link_cost(N)` with `h + 1` hops; entries with `h + 1 > MAX_HOPS`
//!   or a cost at [`INFINITE_COST`] are unreachable (bounds count-to-infinity);
//! - the best path is the cheapest (then the fewest hops); every neighbour
//!   whose *advertised* cost is below the best path's cost is a next hop
//!   (it is strictly closer to the destination, so the next hops form no
//!   loop), each with its own path cost;
//! - split horizon: a prefix is not advertised to a neighbour that is one
//!   of its next hops. Updates carry the full vector, so leaving a prefix
//!   out withdraws it at once (the effect of poisoned reverse).

use std::collections::{BTreeMap, BTreeSet};

use picasso_tlv::Name;

use super::message::Entry;
use crate::FaceId;

/// Costs at or above this are unreachable.
pub const INFINITE_COST: u64 = 1_000_000;
/// Longest path, in hops, that is still reachable.
pub const MAX_HOPS: u64 = 16;

/// What the computation knows of one neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourView {
    /// Its node name.
    pub node: String,
    /// The face to it.
    pub face: FaceId,
    /// Cost of the link to it (≥ 1).
    pub link_cost: u64,
    /// Whether it answers hellos.
    pub alive: bool,
    /// Its latest vector: prefix → (cost, hops).
    pub vector: BTreeMap<Name, (u64, u64)>,
}

/// One next hop of a learned prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NextHop {
    /// The neighbour's node name.
    pub node: String,
    /// The face to it.
    pub face: FaceId,
    /// Path cost through it.
    pub cost: u64,
    /// Hops through it.
    pub hops: u64,
}

/// How a prefix is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Best path cost (0 when served here).
    pub cost: u64,
    /// Hops on the best path (0 when served here).
    pub hops: u64,
    /// Next hops, cheapest first; empty when served here.
    pub next_hops: Vec<NextHop>,
}

impl Reach {
    /// Whether this node serves the prefix itself.
    pub fn is_local(&self) -> bool {
        self.next_hops.is_empty()
    }
}

/// The routing table: every reachable prefix.
pub type RoutingTable = BTreeMap<Name, Reach>;

/// Computes the routing table.
pub fn compute(local: &BTreeSet<Name>, neighbours: &[NeighbourView]) -> RoutingTable {
    let mut table = RoutingTable::new();
    for p in local {
        table.insert(
            p.clone(),
            Reach {
                cost: 0,
                hops: 0,
                next_hops: Vec::new(),
            },
        );
    }
    let mut candidates: BTreeMap<&Name, Vec<(u64, NextHop)>> = BTreeMap::new();
    for n in neighbours.iter().filter(|n| n.alive) {
        for (prefix, &(adv_cost, adv_hops)) in &n.vector {
            if local.contains(prefix) {
                continue;
            }
            let cost = adv_cost.saturating_add(n.link_cost.max(1));
            let hops = adv_hops.saturating_add(1);
            if adv_cost >= INFINITE_COST || cost >= INFINITE_COST || hops > MAX_HOPS {
                continue;
            }
            candidates.entry(prefix).or_default().push((
                adv_cost,
                NextHop {
                    node: n.node.clone(),
                    face: n.face,
                    cost,
                    hops,
                },
            ));
        }
    }
    for (prefix, list) in candidates {
        let Some(best) = list.iter().map(|(_, h)| (h.cost, h.hops)).min() else {
            continue;
        };
        let mut next_hops: Vec<NextHop> = list
            .into_iter()
            .filter(|(adv, _)| *adv < best.0)
            .map(|(_, h)| h)
            .collect();
        next_hops.sort_by(|a, b| (a.cost, a.hops, &a.node).cmp(&(b.cost, b.hops, &b.node)));
        table.insert(
            prefix.clone(),
            Reach {
                cost: best.0,
                hops: best.1,
                next_hops,
            },
        );
    }
    table
}

/// The vector to advertise to `neighbour` (split horizon applied).
pub fn advertisement(table: &RoutingTable, neighbour: &str) -> Vec<Entry> {
    table
        .iter()
        .filter(|(_, r)| r.hops < MAX_HOPS && !r.next_hops.iter().any(|h| h.node == neighbour))
        .map(|(p, r)| Entry {
            prefix: p.clone(),
            cost: r.cost,
            hops: r.hops,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    fn nb(node: &str, face: u64, link: u64, vector: &[(&str, u64, u64)]) -> NeighbourView {
        NeighbourView {
            node: node.into(),
            face: FaceId(face),
            link_cost: link,
            alive: true,
            vector: vector.iter().map(|(p, c, h)| (n(p), (*c, *h))).collect(),
        }
    }

    fn faces(t: &RoutingTable, p: &str) -> Vec<(u64, u64)> {
        t.get(&n(p))
            .map(|r| r.next_hops.iter().map(|h| (h.face.0, h.cost)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn local_prefix_is_advertised_at_cost_zero() {
        let local = BTreeSet::from([n("/picasso/svc/a")]);
        let t = compute(&local, &[]);
        assert!(t[&n("/picasso/svc/a")].is_local());
        assert_eq!(
            advertisement(&t, "x"),
            vec![Entry {
                prefix: n("/picasso/svc/a"),
                cost: 0,
                hops: 0
            }]
        );
    }

    #[test]
    fn equal_cost_servers_give_two_next_hops_and_farther_ones_are_excluded() {
        let nbs = [
            nb("b", 300, 2, &[("/s", 0, 0)]),
            nb("c", 301, 3, &[("/s", 0, 0)]),
            // d is farther than our best path: not a feasible next hop.
            nb("d", 302, 1, &[("/s", 5, 2)]),
        ];
        let t = compute(&BTreeSet::new(), &nbs);
        assert_eq!(faces(&t, "/s"), [(300, 2), (301, 3)]);
        assert_eq!(t[&n("/s")].cost, 2);
        // Split horizon: not advertised back to b or c, advertised to d.
        assert!(advertisement(&t, "b").is_empty());
        assert!(advertisement(&t, "c").is_empty());
        assert_eq!(advertisement(&t, "d")[0].cost, 2);
        assert_eq!(advertisement(&t, "d")[0].hops, 1);
    }

    #[test]
    fn dead_neighbours_and_unreachable_entries_are_ignored() {
        let mut dead = nb("b", 300, 1, &[("/s", 0, 0)]);
        dead.alive = false;
        let far = nb(
            "c",
            301,
            1,
            &[("/s", 3, MAX_HOPS), ("/t", INFINITE_COST, 1)],
        );
        let t = compute(&BTreeSet::new(), &[dead, far]);
        assert!(t.is_empty(), "{t:?}");
    }

    #[test]
    fn local_service_wins_over_learned_routes() {
        let local = BTreeSet::from([n("/s")]);
        let t = compute(&local, &[nb("b", 300, 1, &[("/s", 0, 0)])]);
        assert!(t[&n("/s")].is_local());
        assert_eq!(advertisement(&t, "b")[0].cost, 0);
    }
}
