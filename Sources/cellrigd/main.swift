print("cellrigd")
