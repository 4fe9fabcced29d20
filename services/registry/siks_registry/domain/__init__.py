"""The registry's rules: Household and Proposal aggregates that decide, and why they refuse."""
