/* Bare metal: the gnu-linux ctype_inline.h reads glibc's tables. TFLM uses no ctype facet, so
   ctype<char>'s members stay declared (locale_facets.h) and undefined: a use would fail to link,
   never run wrongly. */
