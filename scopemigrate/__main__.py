from scopemigrate.quick import main

main()
