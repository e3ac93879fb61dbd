// GCC 11's headers call std::__throw_bad_array_new_length (GLIBCXX_3.4.29); RHEL 8's libstdc++ (GCC 8) lacks it, so the binding carries its own.
#include <new>

namespace std {
__attribute__((visibility("hidden"), noreturn)) void __throw_bad_array_new_length() { throw std::bad_array_new_length(); }
}  // namespace std
