"""Every type that crosses an actor boundary: events, commands and replies, supervision.

All of them are frozen, slotted dataclasses with plain fields, defined in importable modules
(Thespian pickles them between processes). See DESIGN.md §2.
"""
