from scopemigrate.entry import main

main()
