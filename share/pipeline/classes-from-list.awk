# classes.txt (one name a line, line i naming label i) from an OLTR-style list
# file ("<relative path> <label>"): the class name is the image's folder.
#   ImageNet-LT  train/n01440764/n01440764_190.JPEG 0  -> n01440764 (a WordNet id)
#   Places-LT    /a/apartment_building/outdoor/00000001.jpg 3 -> apartment_building/outdoor
# (Places' folders after its one-letter index folder). Labels without an image
# are named "class<label>".
#   awk -f classes-from-list.awk train.txt > classes.txt
{
  label = $NF
  path = $0
  sub(/[ \t]+[^ \t]+[ \t\r]*$/, "", path)
  n = split(path, part, "/")
  first = n - 1
  for (i = 1; i < n; i++)
    if (length(part[i]) == 1) { first = i + 1; break }
  name = ""
  for (i = first; i < n; i++) name = name (name == "" ? "" : "/") part[i]
  if (!(label in names)) names[label] = name
  if (label + 0 > last) last = label + 0
}
END {
  for (l = 0; l <= last; l++) print ((l in names) && names[l] != "" ? names[l] : "class" l)
}
