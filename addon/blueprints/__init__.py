"""HTTP edges: each module holds one blueprint named bp."""
