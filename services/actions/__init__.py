"""The actions service: the lifecycle of the plan's 66 actions."""
