"""``{{ cookiecutter.dist }}``: the Blockyard component ``{{ cookiecutter.type }}``."""
