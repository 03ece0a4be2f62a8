//! One stable sort that every caller shares. The standard library's sort is generic: each element
//! type and comparison it is used with is compiled again, a few KB of wasm each. Here one sort of
//! indices is compiled once, and each caller adds only the small step that moves its elements into
//! that order. The standard sort's result, element for element (stable: equal ones keep their
//! order). No `crate` import.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// `items.sort_by(compare)`, through the shared sort.
pub fn sort_by<T>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> Ordering) {
    let order = sorted_order(items.len(), &|a, b| compare(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|index| slots[index].take()));
}

/// `pairs.collect::<BTreeMap<_, _>>()` (a repeated key keeps its last value), by inserting each:
/// `collect` sorts the pairs first, with a sort compiled for each place it is called from.
pub fn map_of<K: Ord, V>(pairs: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(pairs);
    map
}

/// `0..len`, stably sorted by `compare` of the elements at those indices.
fn sorted_order(len: usize, compare: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| compare(a, b));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_stable_sort_does() {
        let words = ["pear", "fig", "apple", "kiwi", "plum", "date", "", "banana", "fig"];
        let mut ours: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mut standard = ours.clone();
        // By length only: equal lengths keep the order they came in.
        sort_by(&mut ours, |a, b| a.len().cmp(&b.len()));
        standard.sort_by(|a, b| a.len().cmp(&b.len()));
        assert_eq!(ours, standard);
        assert_eq!(ours, ["", "fig", "fig", "pear", "kiwi", "plum", "date", "apple", "banana"]);
        let mut empty: Vec<String> = Vec::new();
        sort_by(&mut empty, |a, b| a.cmp(b));
        assert!(empty.is_empty());
    }

    #[test]
    fn a_map_of_pairs_is_what_collect_makes() {
        let pairs = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)];
        let collected: BTreeMap<&str, i32> = pairs.into_iter().collect();
        assert_eq!(map_of(pairs), collected);
        assert_eq!(map_of(pairs).into_iter().collect::<Vec<_>>(), [("a", 5), ("b", 3), ("c", 4)]);
    }
}
