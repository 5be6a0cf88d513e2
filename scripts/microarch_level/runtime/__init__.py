"""What runs inside users' shells: the templates of the gate's guard and the flag package's activation
scripts (templates/), and the code that fills them with archspec's tables."""
