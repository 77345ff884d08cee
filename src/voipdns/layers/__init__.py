"""Building blocks shared by nets (layers with parameters); one family per module."""
