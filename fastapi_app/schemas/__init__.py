"""The JSON shapes the contract answers with, for /docs. The shared serializers produce
them; the parity runner checks both sides' answers against them."""
