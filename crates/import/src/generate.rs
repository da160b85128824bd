//! A generator of az CLI export bundles, for measuring import speed.
