"""Promotion: when a complain-mode policy is ready to enforce, judged per service from what
`profiler harvest` read, and the enforce-mode policy from recording + harvest (issue 19)."""
