"""Pure engine: the step graph, states and transitions, deciding what runs next."""
