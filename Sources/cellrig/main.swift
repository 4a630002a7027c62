print("cellrig")
