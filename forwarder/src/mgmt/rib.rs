//! The RIB (NFD's `rib/`): routes registered by applications, management
//! and routing, with origins, costs, flags and expiry; it computes the FIB
//! entries of the prefixes it manages (ChildInherit and Capture as in NFD).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use picasso_tlv::mgmt::{RouteOrigin, ROUTE_FLAG_CAPTURE, ROUTE_FLAG_CHILD_INHERIT};
use picasso_tlv::Name;

use crate::fw::Forwarder;
use crate::table::NextHop;
use crate::FaceId;

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The prefix.
    pub prefix: Name,
    /// The next hop.
    pub face: FaceId,
    /// Who registered it (app, static, routing protocol…).
    pub origin: RouteOrigin,
    /// Cost.
    pub cost: u64,
    /// ChildInherit / Capture flags.
    pub flags: u64,
    /// When it expires, if ever.
    pub expires: Option<Instant>,
}

/// The RIB.
#[derive(Debug, Default)]
pub struct Rib {
    routes: BTreeMap<Name, Vec<Route>>,
}

impl Rib {
    /// Adds or updates the route (prefix, face, origin) and updates the FIB.
    pub fn add(&mut self, fwd: &mut Forwarder, route: Route) {
        let list = self.routes.entry(route.prefix.clone()).or_default();
        match list
            .iter_mut()
            .find(|r| r.face == route.face && r.origin == route.origin)
        {
            Some(r) => *r = route.clone(),
            None => list.push(route.clone()),
        }
        self.update_fib(fwd, &route.prefix);
    }

    /// Removes the route (prefix, face, origin); returns whether it existed.
    pub fn remove(
        &mut self,
        fwd: &mut Forwarder,
        prefix: &Name,
        face: FaceId,
        origin: RouteOrigin,
    ) -> bool {
        let Some(list) = self.routes.get_mut(prefix) else {
            return false;
        };
        let before = list.len();
        list.retain(|r| !(r.face == face && r.origin == origin));
        let removed = list.len() != before;
        if list.is_empty() {
            self.routes.remove(prefix);
        }
        if removed {
            self.update_fib(fwd, prefix);
        }
        removed
    }

    /// Removes every route through `face`.
    pub fn remove_face(&mut self, fwd: &mut Forwarder, face: FaceId) {
        let affected: Vec<Name> = self
            .routes
            .iter()
            .filter(|(_, l)| l.iter().any(|r| r.face == face))
            .map(|(p, _)| p.clone())
            .collect();
        for p in affected {
            if let Some(l) = self.routes.get_mut(&p) {
                l.retain(|r| r.face != face);
                if l.is_empty() {
                    self.routes.remove(&p);
                }
            }
            self.update_fib(fwd, &p);
        }
    }

    /// Removes expired routes.
    pub fn expire(&mut self, fwd: &mut Forwarder, now: Instant) {
        let affected: Vec<Name> = self
            .routes
            .iter()
            .filter(|(_, l)| l.iter().any(|r| r.expires.is_some_and(|t| t <= now)))
            .map(|(p, _)| p.clone())
            .collect();
        for p in affected {
            if let Some(l) = self.routes.get_mut(&p) {
                l.retain(|r| r.expires.is_none_or(|t| t > now));
                if l.is_empty() {
                    self.routes.remove(&p);
                }
            }
            self.update_fib(fwd, &p);
        }
    }

    /// All routes by prefix.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Vec<Route>)> {
        self.routes.iter()
    }

    /// Next hops of `prefix`: its own routes plus those its ancestors
    /// pass down with ChildInherit, stopping at a Capture route.
    fn next_hops(&self, prefix: &Name) -> Vec<NextHop> {
        let mut best: HashMap<FaceId, u64> = HashMap::new();
        let mut add = |r: &Route| {
            let c = best.entry(r.face).or_insert(u64::MAX);
            *c = (*c).min(r.cost);
        };
        let mut captured = false;
        for len in (0..=prefix.len()).rev() {
            let Some(list) = self.routes.get(&prefix.prefix(len)) else {
                continue;
            };
            let own = len == prefix.len();
            for r in list {
                if own || r.flags & ROUTE_FLAG_CHILD_INHERIT != 0 {
                    add(r);
                }
            }
            if list.iter().any(|r| r.flags & ROUTE_FLAG_CAPTURE != 0) {
                captured = true;
            }
            if captured {
                break;
            }
        }
        best.into_iter()
            .map(|(face, cost)| NextHop { face, cost })
            .collect()
    }

    /// Recomputes the FIB entries of `prefix` and of every RIB prefix below it.
    fn update_fib(&self, fwd: &mut Forwarder, prefix: &Name) {
        let mut targets = vec![prefix.clone()];
        targets.extend(
            self.routes
                .range(prefix.clone()..)
                .take_while(|(p, _)| prefix.is_prefix_of(p))
                .map(|(p, _)| p.clone())
                .filter(|p| p != prefix),
        );
        for p in targets {
            let hops = if self.routes.contains_key(&p) {
                self.next_hops(&p)
            } else {
                Vec::new()
            };
            fwd.fib.set_next_hops(&p, &hops);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fw::ForwarderLimits;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    fn route(p: &str, face: u64, cost: u64, flags: u64) -> Route {
        Route {
            prefix: n(p),
            face: FaceId(face),
            origin: RouteOrigin::APP,
            cost,
            flags,
            expires: None,
        }
    }

    fn hops(fwd: &Forwarder, p: &str) -> Vec<(u64, u64)> {
        fwd.fib
            .find_exact(&n(p))
            .map(|e| e.next_hops.iter().map(|h| (h.face.0, h.cost)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn child_inherit_and_capture() {
        let mut fwd = Forwarder::new(ForwarderLimits::default());
        let mut rib = Rib::default();
        rib.add(&mut fwd, route("/a", 300, 10, ROUTE_FLAG_CHILD_INHERIT));
        rib.add(&mut fwd, route("/a/b", 301, 5, 0));
        assert_eq!(hops(&fwd, "/a/b"), [(301, 5), (300, 10)]);
        rib.add(&mut fwd, route("/a/b", 302, 1, ROUTE_FLAG_CAPTURE));
        assert_eq!(hops(&fwd, "/a/b"), [(302, 1), (301, 5)]);
        assert!(rib.remove(&mut fwd, &n("/a/b"), FaceId(302), RouteOrigin::APP));
        assert_eq!(hops(&fwd, "/a/b"), [(301, 5), (300, 10)]);
        rib.remove_face(&mut fwd, FaceId(300));
        assert_eq!(hops(&fwd, "/a/b"), [(301, 5)]);
        assert!(hops(&fwd, "/a").is_empty());
    }

    #[test]
    fn routes_expire() {
        let mut fwd = Forwarder::new(ForwarderLimits::default());
        let mut rib = Rib::default();
        let t = Instant::now();
        let mut r = route("/x", 300, 0, 0);
        r.expires = Some(t + std::time::Duration::from_secs(1));
        rib.add(&mut fwd, r);
        rib.expire(&mut fwd, t);
        assert_eq!(hops(&fwd, "/x"), [(300, 0)]);
        rib.expire(&mut fwd, t + std::time::Duration::from_secs(1));
        assert!(hops(&fwd, "/x").is_empty());
    }
}
