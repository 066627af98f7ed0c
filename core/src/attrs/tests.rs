//! Unit tests of the SER 2.x user-data functions.
