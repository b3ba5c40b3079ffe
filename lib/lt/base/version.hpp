// Version of lt and the git commit it was built from (generated at configure time).
#pragma once

namespace lt {
const char* version();
const char* git_commit();
}  // namespace lt
