//! Parses arbitrary text as a name URI; whatever parses must print in a
//! canonical form that parses back to the same name (and prints the same).

#![no_main]

use libfuzzer_sys::fuzz_target;
use picasso_tlv::{Component, Name};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(c) = Component::from_uri(&s) {
        let u = c.to_uri();
        let again = Component::from_uri(&u).expect("printed component parses");
        assert_eq!(again, c, "{s:?} printed as {u:?}");
    }
    if let Ok(n) = Name::from_uri(&s) {
        let u = n.to_uri();
        let again = Name::from_uri(&u).expect("printed name parses");
        assert_eq!(again, n, "{s:?} printed as {u:?}");
        assert_eq!(again.to_uri(), u, "canonical form is a fixed point");
        // The parsed name is a valid Name on the wire too.
        assert_eq!(Name::decode(n.to_wire()).expect("encoded name decodes"), n);
    }
});
