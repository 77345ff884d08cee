"""Model zoo: one nn.Module per file, each with its yaml in conf/net/."""
