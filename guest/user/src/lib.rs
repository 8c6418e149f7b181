//! Ring-3 runtime for lwpvm guest programs.
#![no_std]
