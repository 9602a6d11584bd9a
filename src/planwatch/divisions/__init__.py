"""The org-unit tree (市 → 区(市)县 → 街道(镇) → 社区(村) → 小区) and its population."""
