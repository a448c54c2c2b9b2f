from scopemigrate.cli import run

run()
