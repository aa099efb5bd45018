"""Everything that publishes events: inference workers, the load generator, replayers."""
